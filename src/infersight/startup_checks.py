"""What `run` needs besides a valid config, checked up front: the secrets notifiers read from
the environment, and the dataset files of scheduled sweeps.

`infersight config check` reports these as problems; `run` refuses to start on a missing
secret and warns about a missing dataset (a sweep that cannot start is retried on schedule).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from infersight.alerting.notifiers import build_notifiers
from infersight.settings import ConfigError, ConfigProblem, Settings

__all__ = ["dataset_problems", "notifier_problems", "startup_problems"]


def notifier_problems(
    settings: Settings, *, env: Mapping[str, str] | None = None
) -> list[ConfigProblem]:
    """A problem per environment variable a notifier names that is unset or empty."""
    try:
        build_notifiers(settings.alerting.notifiers, env=os.environ if env is None else env)
    except ConfigError as err:
        return list(err.problems)
    return []


def dataset_problems(settings: Settings) -> list[ConfigProblem]:
    """A problem per sweep whose dataset file (relative to the working directory) is missing."""
    problems: list[ConfigProblem] = []
    for i, sweep in enumerate(settings.quality.sweeps):
        if sweep.dataset == "default":
            continue
        path = Path(sweep.dataset).expanduser()
        if not path.is_file():
            what = "is a directory, not a dataset file" if path.is_dir() else "no such file"
            problems.append(
                ConfigProblem(
                    f"quality.sweeps[{i}].dataset",
                    f"{what} (from {Path.cwd()})" if not path.is_absolute() else what,
                    value=sweep.dataset,
                    hint="name a JSONL dataset file, or write dataset: default for the "
                    "built-in one",
                )
            )
    return problems


def startup_problems(
    settings: Settings, *, env: Mapping[str, str] | None = None
) -> list[ConfigProblem]:
    """Everything `run` would find wrong at start-up, by setting path."""
    return notifier_problems(settings, env=env) + dataset_problems(settings)
