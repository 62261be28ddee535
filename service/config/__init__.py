"""The configuration: YAML files with located errors, their strict schema, loading and live reload.

`from service.config import Config, load_config` is the entry most callers need.
"""

from service.config.load import Config, fingerprint, load_config

__all__ = ["Config", "fingerprint", "load_config"]
