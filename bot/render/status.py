"""One-line job progress and the pinned status message."""

from __future__ import annotations

from bot.render.html import TEXT_LIMIT, esc, split_text, tg_len
from engine.presentation import job_progress, status_rows
from engine.protocol import JobView


def render_job_progress(job: JobView, label: str | None = None) -> str:
    """One HTML line: "⏳ Leonardo: rendering… 40%" (the neutral line, escaped)."""
    return esc(job_progress(job, label))


def render_status(fields: list[list[tuple[str, str]]], step_name: str) -> str:
    """The pinned status message: the step, then one line per row of
    `(label, value)` pairs ("Pet: Cat · Mood: Cozy")."""
    (step,), *groups = status_rows(fields, step_name)
    lines = [f"📌 <b>{esc(step.text)}</b>"]
    lines += [" · ".join(f"{esc(r.label)}: <b>{esc(r.text)}</b>" for r in group) for group in groups]
    text = "\n".join(lines)
    return text if tg_len(text) <= TEXT_LIMIT else split_text(text)[0]
