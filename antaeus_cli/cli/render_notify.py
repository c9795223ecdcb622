"""Rendering the result of `antaeus notify`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from antaeus_cli.cli.exit_codes import ExitCode
from antaeus_cli.cli.json_out import write_json
from antaeus_cli.cli.text import capped, safe
from antaeus_cli.domain.words import counted
from antaeus_cli.notify.results import NotifyPreview, NotifyResult

if TYPE_CHECKING:
    from antaeus_cli.notify.specimens import TemplateCheck


def render_notify(result: NotifyResult, code: ExitCode, *, json_output: bool) -> None:
    if json_output:
        write_json(
            {
                "channel": result.channel,
                "sent": result.sent,
                "failed": result.failed,
                "skipped": result.skipped,
                "deferred": result.deferred,
                "stop_reason": result.stop_reason,
                "channel_refused": result.channel_refused,
                "exit_code": int(code),
                "failures": [
                    {"key": f.key, "status": f.status, "reason": f.reason} for f in result.failures
                ],
            }
        )
        return
    sys.stdout.write(
        f"notify via {safe(result.channel)}: {result.sent} sent, {result.skipped} skipped "
        f"(no address), {result.failed} failed, {result.deferred} to try again later\n"
    )
    for failure in result.failures:
        sys.stdout.write(
            f"  {failure.status}: {safe(failure.key)}: {capped(safe(failure.reason))}\n"
        )
    if result.stop_reason is not None:
        sys.stdout.write(f"stopped early: {capped(safe(result.stop_reason))}\n")


def render_notify_preview(preview: NotifyPreview, *, json_output: bool) -> None:
    if json_output:
        write_json(
            {
                "dry_run": True,
                "channel": preview.channel,
                "due": preview.due,
                "listed": [
                    {
                        "key": n.key,
                        "kind": n.kind,
                        "recipient": n.recipient,
                        "subject": n.subject,
                    }
                    for n in preview.listed
                ],
            }
        )
        return
    sys.stdout.write(
        f"dry run: {counted(preview.due, 'notice')} due via {safe(preview.channel)}; "
        "nothing was sent\n"
    )
    for n in preview.listed:
        to = "the operator" if n.recipient is None and n.kind == "run_summary" else n.recipient
        sys.stdout.write(f"  {n.kind}: to {safe(str(to))}: {capped(safe(n.subject))}\n")
    if preview.due > len(preview.listed):
        sys.stdout.write(f"  ... and {preview.due - len(preview.listed)} more\n")


def render_template_check(checked: TemplateCheck, *, json_output: bool) -> None:
    if json_output:
        write_json(
            {
                "ok": not checked.problems,
                "templates": checked.directory,
                "languages": checked.languages,
                "kinds": checked.kinds,
                "problems": checked.problems,
            }
        )
        return
    where = "built-in templates" if checked.directory is None else safe(checked.directory)
    if checked.problems:
        sys.stdout.write(f"templates: {where}: {counted(len(checked.problems), 'problem')}\n")
        for problem in checked.problems:
            sys.stdout.write(f"  {capped(safe(problem))}\n")
        return
    sys.stdout.write(
        f"templates: {where}: every kind ({', '.join(checked.kinds)}) renders in "
        f"{', '.join(checked.languages)}\n"
    )
