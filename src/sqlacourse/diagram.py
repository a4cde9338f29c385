"""An entity-relationship diagram of a ``MetaData``, as Mermaid.

JupyterLab (4.1 and newer) renders the ``text/vnd.mermaid`` output type
itself, so no Graphviz or other program is needed.  Elsewhere the Mermaid
source shows as text, which also pastes into any Mermaid viewer.
"""

from __future__ import annotations

from sqlalchemy import MetaData, Table


def _type(col) -> str:
    try:
        name = col.type.compile()
    except Exception:
        name = type(col.type).__name__
    return name.split("(")[0].replace(" ", "_")


def _entity(table: Table) -> list[str]:
    lines = [f"    {table.name} {{"]
    fk_cols = {fk.parent.name for fk in table.foreign_keys}
    for col in table.columns:
        keys = []
        if col.primary_key:
            keys.append("PK")
        if col.name in fk_cols:
            keys.append("FK")
        if col.unique:
            keys.append("UK")
        key = " " + ",".join(keys) if keys else ""
        null = ' "nullable"' if col.nullable and not col.primary_key else ""
        lines.append(f"        {_type(col)} {col.name}{key}{null}")
    lines.append("    }")
    return lines


class ERDiagram:
    def __init__(self, source: str) -> None:
        self.source = source

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/vnd.mermaid": self.source, "text/plain": self.source}

    def __str__(self) -> str:
        return self.source


def er_diagram(metadata: MetaData) -> ERDiagram:
    """Tables, columns (PK/FK/UK) and foreign keys of ``metadata``."""
    lines = ["erDiagram"]
    for table in metadata.sorted_tables:
        lines += _entity(table)
    for table in metadata.sorted_tables:
        for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name):
            parent = fk.column.table.name
            unique = fk.parent.unique or (fk.parent.primary_key and len(table.primary_key.columns) == 1)
            many = "o|" if unique else "o{"
            lines.append(f'    {parent} ||--{many} {table.name} : "{fk.parent.name}"')
    return ERDiagram("\n".join(lines))
