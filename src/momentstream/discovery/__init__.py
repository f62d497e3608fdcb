"""Discovery: find the moments and intervention windows hidden in a history, and backtest them.

Offline work beside the runtimes: a history in (JSON lines), candidate moments, timing
windows and a backtest out. Support is counted with the engine's own compiled matcher, so
a discovered moment does in production what the report says it did in the history.
"""
