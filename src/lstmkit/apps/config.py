"""Job settings as dataclasses whose fields carry their help text and allowed values: the command-line options are
generated from them (cli/common.py), so `--help` and the library never drift, and `check_fields` validates a
filled-in config with one clear message per wrong value."""

from dataclasses import field, fields

import numpy as np


def option(default, help, **metadata):
    """A config field with its help text (and, e.g., `choices=(...)`). A field whose default is "auto" takes
    "auto" besides values of its type: the job chooses the value from the data."""
    return field(default=default, metadata={"help": help, **metadata})


def check_fields(config, at_least_one=()):
    """Every field holds a value of its declared type (None allowed for strings), within its choices; the fields
    named in `at_least_one` are >= 1. Returns the config."""
    for f in fields(config):
        value = getattr(config, f.name)
        if is_auto(config, f.name):
            continue
        auto = " (or 'auto')" if f.default == "auto" else ""
        if f.type is int and (not isinstance(value, (int, np.integer)) or isinstance(value, bool)):
            raise ValueError(f"{f.name} must be an integer{auto}, got {value!r}.")
        if f.type is float and (isinstance(value, bool) or not isinstance(value, (int, float, np.number))
                                or not np.isfinite(value)):
            raise ValueError(f"{f.name} must be a finite number, got {value!r}.")
        if f.type is bool and not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{f.name} must be True or False{auto}, got {value!r}.")
        if f.type is str and value is not None and not isinstance(value, str):
            raise ValueError(f"{f.name} must be a string or None, got {value!r}.")
        if "choices" in f.metadata and value is not None and value not in f.metadata["choices"]:
            raise ValueError(f"{f.name} must be one of {', '.join(f.metadata['choices'])}; got {value!r}.")
    for name in at_least_one:
        if not is_auto(config, name) and getattr(config, name) < 1:
            raise ValueError(f"{name} must be at least 1, got {getattr(config, name)}.")
    return config


def is_auto(config, name):
    """Whether the field `name` of `config` is "auto" and may be (its default is "auto")."""
    f = next(f for f in fields(config) if f.name == name)
    return f.default == "auto" and isinstance(getattr(config, name), str) and getattr(config, name) == "auto"
