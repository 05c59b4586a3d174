"""The emitter shape every target shares: plan + provenance -> template context -> source."""

from __future__ import annotations

from dataclasses import dataclass

import jinja2

from ..plan import Plan
from ..resources import templates_dir
from ..spec import SOURCE_SUFFIX

__all__ = ["Emitter", "Provenance", "py_literal"]


def py_literal(value) -> str:
    """A plan constant as a Python literal, strings double-quoted: ``("horner", "chunked")``,
    ``0.0001``, ``256`` (the templates' ``py`` filter)."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        items = [py_literal(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return repr(value)


@dataclass(frozen=True)
class Provenance:
    """What the header of an emitted file records (no timestamps: output is reproducible)."""

    key: str
    package_version: str
    generator: str
    module_fields: tuple[tuple[str, object], ...]

    def fields_text(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.module_fields)


class Emitter:
    """Renders ``templates/<target>/module<suffix>.j2`` with the plan.

    Subclasses set ``target``, ``suffix`` and may extend :meth:`context`; templates see
    ``plan``, ``prov`` (a :class:`Provenance`), ``target``, ``target_params`` (the plan's
    :class:`~sigcodegen.plan.TargetParams` of this target: its strategies and constants),
    ``refresh`` (the CLI line that rebuilds the file) and whatever ``context`` adds. Undefined
    names are errors (``StrictUndefined``).
    """

    target: str = ""

    def __init__(self):
        root = templates_dir()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(root / self.target), str(root / "common")]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=False,
        )
        self.env.filters["py"] = py_literal

    @property
    def suffix(self) -> str:
        return SOURCE_SUFFIX[self.target]

    @property
    def template_name(self) -> str:
        return f"module{self.suffix}.j2"

    def context(self, plan: Plan, prov: Provenance) -> dict:
        kind = "" if plan.kind == "signature" else f"--kind {plan.kind} "
        return {
            "plan": plan,
            "prov": prov,
            "target": self.target,
            "target_params": plan.target_params(self.target),
            "refresh": f"sigcodegen build {kind}--dim {plan.dim} --depth {plan.depth} "
                       f"--target {self.target}",
        }

    def render(self, plan: Plan, prov: Provenance) -> str:
        source = self.env.get_template(self.template_name).render(**self.context(plan, prov))
        return source.rstrip() + "\n"
