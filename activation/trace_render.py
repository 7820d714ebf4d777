"""Print a ``Trace`` for the terminal, with every identifier masked.

Record keys and identifier values are masked the way ``identity.explain`` masks
them, and match keys by ``activation.trace.masked_key``. No email address, phone
number or name is printed.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from activation.trace import Trace
from identity.explain import add_links, masked_record_key


def render_trace(trace: Trace, console: Console) -> None:
    destination = trace.destination
    console.print(
        f"[bold]Trace of {trace.customer_id}[/bold] (found by {trace.looked_up_by}) "
        f"at destination {destination.name} ({destination.type}, "
        f"{destination.mode} mode), segment {trace.segment}",
        soft_wrap=True,
    )
    _print_exports(trace, console)
    _print_ids(trace, console)
    console.print(_records_tree(trace))
    _print_rule(trace, console)


def _print_exports(trace: Trace, console: Console) -> None:
    console.rule("Exports")
    if trace.exports:
        table = Table("run date", "customer id", "action", "status", "file", "reason")
        for row in trace.exports:
            table.add_row(
                row.run_date.isoformat(),
                row.customer_id,
                _action_label(row.action),
                row.status,
                row.file or "-",
                row.reason or "",
            )
        console.print(table)
    else:
        console.print(
            f"No addition, change or removal of this person was logged for "
            f"{trace.destination.name}/{trace.segment}."
        )
    if trace.destination.mode != "diff":
        console.print(
            f"{trace.destination.mode.capitalize()} mode sends every member on every "
            "run date, so each file of a run date the person was held on lists them; "
            "only additions, changes and removals are logged above.",
            soft_wrap=True,
        )
    for held in trace.held:
        console.print(
            f"Held by the destination after the sync of {held.run_date} as "
            f"{held.customer_id} under key {held.masked_key}",
            soft_wrap=True,
        )
    for failed in trace.failed:
        state = f"resolved {failed.resolved_at}" if failed.resolved_at else "open"
        console.print(
            f"Failed on {failed.run_date} ({failed.action}, {state}): {failed.reason}",
            soft_wrap=True,
        )


def _action_label(action: str) -> str:
    return {"add": "added", "change": "changed", "remove": "removed"}.get(
        action, action
    )


def _print_ids(trace: Trace, console: Console) -> None:
    console.rule("Customer id")
    retired = [i for i in trace.customer_ids if i != trace.customer_id]
    line = f"Current customer id {trace.customer_id}"
    if retired:
        line += f"; earlier ids that resolve to it: {', '.join(retired)}"
    console.print(line, soft_wrap=True)
    if not trace.id_changes:
        console.print("No merge or split changed this customer's id.")
        return
    table = Table("changed at", "change", "old id", "new id", "records moved")
    for change in trace.id_changes:
        table.add_row(
            str(change.changed_at),
            change.change,
            change.old_customer_id,
            change.new_customer_id,
            str(change.records),
        )
    console.print(table)


def _records_tree(trace: Trace) -> Tree:
    explanation = trace.explanation
    tree = Tree(f"[bold]Source records of {explanation.customer_id}[/bold]")
    records = tree.add(f"{len(explanation.records)} records")
    for record_key, source, source_record_id in explanation.records:
        shown_id = masked_record_key(f"{source}:{source_record_id}").partition(":")[2]
        observed = trace.observed_at.get(record_key)
        records.add(
            f"{masked_record_key(record_key)}  source {source}, record id {shown_id}"
            f", observed {observed or 'unknown'}"
        )
    add_links(tree, explanation.links)
    return tree


def _print_rule(trace: Trace, console: Console) -> None:
    rule = trace.rule
    console.rule(f"Segment {rule.segment}")
    if rule.label:
        console.print(f"[bold]{rule.label}[/bold]")
    console.print(rule.description or "(no description in the dbt manifest)")
    console.print(f"Owner: {rule.owner or 'not set in meta'}")
    console.print(f"SQL: {rule.sql_path}", soft_wrap=True)
    for name, value in rule.variables:
        shown = "null (unset)" if value is None else value
        console.print(f"var {name} = {shown}")

    if rule.is_member:
        console.print(f"Member of marts.{rule.model} now, with these values:")
    elif rule.values_from:
        console.print(
            f"Not a member of marts.{rule.model} now; the same columns from "
            f"{rule.values_from}:"
        )
    else:
        console.print(f"Not a member of marts.{rule.model} now, and no traits found.")
    if rule.reasons:
        table = Table("column", "value", "description")
        for reason in rule.reasons:
            value = "null" if reason.value is None else str(reason.value)
            table.add_row(reason.column, value, reason.description)
        console.print(table)
