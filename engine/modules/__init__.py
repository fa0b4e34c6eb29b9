"""The module registry, keyed by `module_id`."""

from __future__ import annotations

from engine.modules.base import Module
from engine.modules.compose import ComposeModule
from engine.modules.fetch import FetchModule
from engine.modules.files import FileInputModule, FitImageModule
from engine.modules.io import ClientWriteModule, ExtractModule, RenderTemplateModule, WeightedKeywordsModule
from engine.modules.later import refused_modules
from engine.modules.llm import LLMModule
from engine.modules.media import MediaGenerateModule
from engine.modules.query import QueryModule
from engine.modules.user import SelectModule, TextInputModule


def default_modules() -> dict[str, Module]:
    modules: list[Module] = [
        SelectModule(),
        TextInputModule(),
        FileInputModule(),
        FitImageModule(),
        LLMModule(),
        MediaGenerateModule(),
        ComposeModule(),
        RenderTemplateModule(),
        ClientWriteModule(),
        WeightedKeywordsModule(),
        ExtractModule(),
        QueryModule(),
        FetchModule(),
        *refused_modules(),
    ]
    return {module.module_id: module for module in modules}
