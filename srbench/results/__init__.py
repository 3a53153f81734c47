"""The results store and what is built on it: :mod:`~srbench.results.store` (the SQLite
schema, writes and reads), :mod:`~srbench.results.merge` (joining stores) and
:mod:`~srbench.results.export` (the JSON-lines export committed with the leaderboards)."""
