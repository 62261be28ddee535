"""Operating the service: the command line (cli, rulecmds), the scheduler (worker), health and metrics (web,
metrics) and logging (logs). The entry point is the only place that reads the environment."""
