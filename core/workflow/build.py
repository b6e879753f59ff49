"""Workflows as a configuration runs them, built and checked at start-up: the plugins'
declarations, bound to their models, with ``accord.toml``'s ``[workflows]`` applied."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, inspect
from sqlalchemy.orm import Mapper

from accord.core.contributions import Transition, Workflow
from accord.core.errors import PluginError, SettingsError

if TYPE_CHECKING:
    from accord.core.manager import AccordPluginManager
    from accord.core.settings import TransitionSetting


@dataclass(frozen=True)
class Step:
    """A transition as this configuration runs it: settings applied, event name made."""

    workflow: Workflow
    transition: Transition
    permission: str | None
    allow_self_approval: bool
    event: str


@dataclass(frozen=True)
class Machine:
    """A workflow bound to its model, with its steps by name and by source state."""

    workflow: Workflow
    model: type[Any]
    table: str
    steps: dict[str, Step]
    from_state: dict[str, tuple[Step, ...]] = field(default_factory=dict)


def build_machines(pm: AccordPluginManager) -> list[Machine]:
    """The plugins' workflows with ``accord.toml``'s ``[workflows]`` applied, checked
    now: a mistake fails here, naming the plugin or the setting."""
    settings = pm.settings
    models = {
        str(model.__tablename__): model
        for model in pm.collect("accord_models")
        if isinstance(model, type) and hasattr(model, "__tablename__")
    }
    permissions = {permission.name for permission in pm.collect("accord_permissions")}
    owners = pm.owned_tables()
    config = str(settings.config)
    machines: list[Machine] = []
    for owner, workflow in pm.collect_with_owner("accord_workflows"):
        check_workflow(owner, workflow, models, permissions, owners)
        overrides = settings.workflows.get(workflow.name, {})
        machines.append(bind(workflow, models[workflow.model], overrides, permissions, config))
    declared = {machine.workflow.name for machine in machines}
    for name in settings.workflows:
        if name not in declared:
            raise SettingsError(
                f"{config}, [workflows.{_toml(name)}]: no plugin declares the workflow "
                f"{name!r}; known: {', '.join(sorted(declared)) or 'none'}"
            )
    check_models(machines)
    for impl in pm.hook.accord_after_transition.get_hookimpls():
        if impl.wrapper or impl.hookwrapper:
            raise PluginError(
                f"plugin {impl.plugin_name!r}: accord_after_transition cannot be a "
                "wrapper; its implementations run one by one, so that one failing "
                "does not stop the others"
            )
    return machines


def check_workflow(
    owner: str,
    workflow: Workflow,
    models: Mapping[str, type[Any]],
    permissions: set[str],
    owners: Mapping[str, str],
) -> None:
    """Refuse a malformed workflow, naming its plugin and what to change."""

    def fail(reason: str) -> None:
        raise PluginError(f"plugin {owner!r}, workflow {workflow.name!r}: {reason}")

    model = models.get(workflow.model)
    if model is None:
        fail(f"unknown model {workflow.model!r}; known: {', '.join(sorted(models))}")
        return
    if owners.get(workflow.model) != owner:
        fail(
            f"model {workflow.model!r} belongs to {owners.get(workflow.model)!r}; a plugin "
            "runs workflows over its own tables only (DESIGN rule 2)"
        )
    mapper: Mapper[Any] = inspect(model)
    columns = set(mapper.column_attrs.keys())
    if len(mapper.primary_key) != 1:
        fail(f"model {workflow.model!r} needs a single-column primary key")
    if workflow.state_field not in columns:
        fail(f"model {workflow.model!r} has no state column {workflow.state_field!r}")
    if mapper.version_id_col is None:
        fail(
            f"model {workflow.model!r} has no version column; add accord.api.WorkflowMixin "
            "to it (an integer `version` used as version_id_col), so that two users "
            "cannot both move the same record"
        )
    elif mapper.version_id_generator is False:
        fail(
            f"model {workflow.model!r} has its version set by the database "
            "(version_id_generator=False); a transition sets the next version itself: "
            "drop the setting, as accord.api.WorkflowMixin does"
        )
    if not isinstance(mapper.local_table, Table) or mapper.inherits is not None:
        fail(f"model {workflow.model!r} must be mapped to one table of its own")
    states = workflow.states
    if isinstance(states, str) or not states or len(set(states)) != len(states):
        fail(f"states must be a tuple of distinct names, got {states!r}")
    if workflow.initial not in states:
        fail(f"initial state {workflow.initial!r} is not among states {states!r}")
    seen: set[str] = set()
    for transition in workflow.transitions:
        where = f"transition {transition.name!r}"
        if transition.name in seen:
            fail(f"{where} is declared twice; transition names are unique per workflow")
        seen.add(transition.name)
        if isinstance(transition.source, str) or not transition.source:
            fail(f"{where}: source must be a tuple of states, e.g. ({workflow.initial!r},)")
        for state in (*transition.source, transition.target):
            if state not in states:
                fail(f"{where}: state {state!r} is not among states {states!r}")
        if transition.permission is not None and transition.permission not in permissions:
            fail(f"{where}: unknown permission {transition.permission!r}")
        if transition.requester_field is not None and transition.requester_field not in columns:
            fail(f"{where}: model {workflow.model!r} has no column {transition.requester_field!r}")
        if isinstance(transition.required_inputs, str):
            example = transition.required_inputs
            fail(f"{where}: required_inputs must be a tuple of names, e.g. ({example!r},)")


def bind(
    workflow: Workflow,
    model: type[Any],
    overrides: Mapping[str, TransitionSetting],
    permissions: set[str],
    config: str,
) -> Machine:
    """The workflow as this configuration runs it, with its ``[workflows]`` settings."""
    by_name = {transition.name: transition for transition in workflow.transitions}
    section = f"workflows.{_toml(workflow.name)}"
    for name in overrides:
        if name not in by_name:
            raise SettingsError(
                f"{config}, [{section}.{_toml(name)}]: workflow {workflow.name!r} has no "
                f"transition {name!r}; known: {', '.join(by_name)}"
            )
    steps: dict[str, Step] = {}
    for transition in workflow.transitions:
        setting = overrides.get(transition.name)
        permission = transition.permission
        allow_self = transition.allow_self_approval
        where = f"{config}, [{section}.{_toml(transition.name)}]"
        if setting is not None and setting.permission is not None:
            if setting.permission not in permissions:
                raise SettingsError(
                    f"{where} permission: unknown permission {setting.permission!r}; "
                    f"known: {', '.join(sorted(permissions))}"
                )
            permission = setting.permission
        if setting is not None and setting.allow_self_approval is not None:
            if transition.requester_field is None:
                raise SettingsError(
                    f"{where} allow_self_approval: this transition records no requester, "
                    "so there is no self-approval to allow or refuse; remove the key"
                )
            allow_self = setting.allow_self_approval
        steps[transition.name] = Step(
            workflow=workflow,
            transition=transition,
            permission=permission,
            allow_self_approval=allow_self,
            event=f"{workflow.name}.{transition.name}",
        )
    from_state: dict[str, list[Step]] = {}
    for step in steps.values():
        for state in step.transition.source:
            from_state.setdefault(state, []).append(step)
    return Machine(
        workflow=workflow,
        model=model,
        table=str(model.__tablename__),
        steps=steps,
        from_state={state: tuple(found) for state, found in from_state.items()},
    )


def check_models(machines: Sequence[Machine]) -> None:
    """Several workflows may run over one model, on distinct state columns, with distinct
    transition names (``transition(record, name)`` must know which one is meant)."""
    by_model: dict[type[Any], list[Machine]] = {}
    for machine in machines:
        by_model.setdefault(machine.model, []).append(machine)
    for table_machines in by_model.values():
        fields: dict[str, str] = {}
        names: dict[str, str] = {}
        for machine in table_machines:
            workflow = machine.workflow
            other = fields.setdefault(workflow.state_field, workflow.name)
            if other != workflow.name:
                raise PluginError(
                    f"workflows {other!r} and {workflow.name!r} both use "
                    f"{machine.table}.{workflow.state_field}; give each its own state column"
                )
            for name in machine.steps:
                other = names.setdefault(name, workflow.name)
                if other != workflow.name:
                    raise PluginError(
                        f"workflows {other!r} and {workflow.name!r} of {machine.table} both "
                        f"declare the transition {name!r}; rename one"
                    )


def _toml(name: str) -> str:
    """A key as accord.toml spells it: quoted when it holds a dot or other punctuation."""
    bare = name.replace("_", "").replace("-", "").isalnum()
    return name if bare else f'"{name}"'
