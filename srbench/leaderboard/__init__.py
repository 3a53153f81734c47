"""Leaderboards: :mod:`~srbench.leaderboard.board` (results → per-track boards with
statistics), :mod:`~srbench.leaderboard.text` (how values and set-ups read),
:mod:`~srbench.leaderboard.markdown` (the committed markdown) and
:mod:`~srbench.leaderboard.html` (the static site)."""
