"""`ccbot demo` understands the same words as the bot: free text at any prompt
goes through `Engine.understand`, with a y/n before anything that costs."""

from __future__ import annotations

from pathlib import Path

from bot.terminal import OWNER, TerminalDemo
from engine.api import Engine
from engine.modules.llm import FEEDBACK_PREFIX
from tests.bot.harness import counting_registry

CC = Path(__file__).resolve().parents[1] / "workflows" / "cc"


async def test_the_terminal_understands_words_and_asks_first(tmp_path: Path) -> None:
    providers = counting_registry()
    engine = await Engine.open(db_path=tmp_path / "db.sqlite3", media_root=tmp_path / "media",
                               providers=providers.registry, workflow_dirs=[CC], poll_scale=0.01)
    answers = iter([
        "no photo",  # the photo question first: skipped in words
        "a dog please",  # a whole label, nothing paid follows: done at once
        "the comfort one", "y",  # a guess: asked first
        "15 seconds", "y",
        "",  # the personal note: skipped
        "make it sillier, with a red ball", "n",  # feedback proposed, refused: nothing changed
        "make it sillier, with a red ball", "y",  # ... and accepted: one new set of ideas
        "hello",  # not sure: the options are listed, the question asked again
    ])
    said: list[str] = []

    def ask(prompt: str) -> str:
        said.append(prompt)
        answer = next(answers, None)
        if answer is None:
            raise EOFError  # the person leaves: the demo stops as on Ctrl-D
        return answer

    demo = TerminalDemo(engine, auto=False, ask=ask, say=said.append)
    try:
        try:
            await demo.play(resume=False)
        except KeyboardInterrupt:
            pass
        view = await engine.active_run(OWNER)
        state = await engine.state(view.run_id)
        assert state["pet_type_selection"]["label"] == "Dog"
        assert state["aesthetic_selection"]["id"] == "comfort"
        assert state["duration_selection"]["id"] == "15s"
        assert any("→ Pick #2 ‘Dog’" in line for line in said)
        proposal = "  → 🔄 New scene ideas with: ‘make it sillier, with a red ball’?"
        assert any(line.startswith(proposal) for line in said)
        assert sum("Nothing changed" in line for line in said) == 1
        scene_calls = [r for r in providers.llm.requests if r.metadata.get("module") == "generate_scenes"]
        assert len(scene_calls) == 2
        assert FEEDBACK_PREFIX + "make it sillier, with a red ball" in providers.llm.user_texts(scene_calls[-1])
        assert any("question for me" in line for line in said), "hello: not sure, with the options"
    finally:
        await engine.close()
