"""Alert rendering and sinks; this package never imports `service`."""
