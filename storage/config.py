"""Configuration files read from disk: YAML validated by the pydantic models in pipelines/.

Rate cards, carriers.yaml and bill templates are written by analysts, so a mistake must
come back as one error that names the file and every field at fault (docs/rate-cards.md),
never as a silently ignored setting or a bare traceback. The models (and the rules across
files, such as rate-card versions that must not overlap) live with the engines in
pipelines/; reading the files lives here, because pipelines/ does no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from pipelines.rating.cards import RateCard, RateCardError, check_versions
from pipelines.reconciliation.config import CarriersFile

Model = TypeVar("Model", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file cannot be read or does not validate; the message names the
    file and, for a validation error, every field location pydantic reported."""


def load_yaml_model(
    path: Path,
    model: type[Model],
    what: str,
    *,
    derived: Callable[[bytes], Mapping[str, Any]] | None = None,
) -> Model:
    """The YAML mapping in `path` validated as `model`; `what` names it in errors.

    `derived` adds fields computed from the file's bytes (a template's digest), so they
    describe exactly the text that was validated, read once.
    """
    try:
        text = path.read_bytes()
        raw = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: {what} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        required = [name for name, field in model.model_fields.items() if field.is_required()]
        got = "an empty file" if raw is None else f"a {type(raw).__name__}"
        raise ConfigError(
            f"{path}: a {what} is a YAML mapping ({', '.join(required)}, ...), got {got}"
        )
    if derived is not None:
        raw.update(derived(text))
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = [
            f"{path}: {'.'.join(str(p) for p in err['loc']) or f'({what})'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ConfigError(f"invalid {what}\n" + "\n".join(lines)) from exc


def load_rate_card(path: Path) -> RateCard:
    """One rate card file (one contract version, docs/rate-cards.md)."""
    return load_yaml_model(path, RateCard, "rate card")


def load_rate_cards(folder: Path) -> list[RateCard]:
    """Every card in `folder`, checked as a set (pipelines.rating.cards.check_versions:
    versions of one carrier must not overlap); any problem is a ConfigError."""
    paths = sorted(p for p in folder.glob("*.y*ml") if p.is_file())
    if not paths:
        raise ConfigError(f"{folder}: no rate card files (*.yaml)")
    cards = [load_rate_card(p) for p in paths]
    try:
        check_versions(cards, [str(p) for p in paths])
    except RateCardError as exc:
        raise ConfigError(str(exc)) from exc
    return cards


def load_carriers(path: Path) -> CarriersFile:
    """`carriers.yaml`: billing cycle, currency, tolerances and API settings per carrier."""
    return load_yaml_model(path, CarriersFile, "carriers file")
