"""Pieces of the bot-load benchmark (benchmarks/bot_load.py): realistic
provider media, the provider fakes' process, the baseline bot, simulated
people, and the measurements."""
