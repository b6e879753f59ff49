"""How a transition writes a workflow's state: one prepared UPDATE of the state and the
version, rather than a flush of the record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, ColumnElement, Table, Update, bindparam, inspect, update
from sqlalchemy.orm import Mapper

from accord.core.audit import is_audited
from accord.core.workflow.build import Machine


@dataclass(frozen=True)
class StateWrite:
    """How a transition writes one workflow's state: one UPDATE of the state and the
    version, matched on the primary key and the version the record was loaded with."""

    table: Table
    key: ColumnElement[Any]
    state_key: str
    version: ColumnElement[Any]
    version_key: str
    next_version: Callable[[Any], Any]
    stamped: tuple[tuple[str, str], ...]
    """Columns that SQLAlchemy sets on every UPDATE from Python (``updated_at``): their
    attribute, and their parameter in the executed statement."""
    refreshed: tuple[tuple[str, Column[Any]], ...]
    """Columns the database sets on every UPDATE: their attribute, and the column that
    the statement returns."""
    unnarrowed: Update
    """The UPDATE, without RETURNING."""
    statement: Update
    """The UPDATE for a principal who may change every row: it returns ``refreshed``."""
    audited: bool

    def narrowed(self, condition: ColumnElement[bool]) -> Update:
        """The UPDATE of a row that ``condition`` selects, returning ``refreshed`` and
        whether the row as written still meets ``condition``."""
        columns = [column for _, column in self.refreshed]
        return self.unnarrowed.where(condition).returning(*columns, condition.label("writable"))

    @classmethod
    def of(cls, machine: Machine) -> StateWrite:
        """For a model ``check_workflow`` accepted: one table, one key, a version that
        SQLAlchemy counts."""
        mapper: Mapper[Any] = inspect(machine.model)
        version, generator = mapper.version_id_col, mapper.version_id_generator
        table = mapper.local_table
        # check_workflow refused every other model
        assert version is not None
        assert callable(generator)
        assert isinstance(table, Table)
        key = mapper.primary_key[0]
        state = mapper.columns[machine.workflow.state_field]
        stamped, refreshed = [], []
        for column in table.columns:
            attribute = mapper.get_property_by_column(column).key
            default = column.onupdate
            if default is not None and (default.is_scalar or default.is_callable):
                stamped.append((attribute, column.key))
            elif default is not None or column.server_onupdate is not None:
                refreshed.append((attribute, column))
        unnarrowed = (
            update(table)
            .where(key == bindparam("w_key"), version == bindparam("w_version"))
            .values({state: bindparam("w_state"), version: bindparam("w_next")})
        )
        statement = unnarrowed
        if refreshed:
            statement = statement.returning(*(column for _, column in refreshed))
        return cls(
            table=table,
            key=key,
            state_key=machine.workflow.state_field,
            version=version,
            version_key=mapper.get_property_by_column(version).key,
            next_version=generator,
            stamped=tuple(stamped),
            refreshed=tuple(refreshed),
            unnarrowed=unnarrowed,
            statement=statement,
            audited=is_audited(machine.model),
        )
