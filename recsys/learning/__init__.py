"""Learning records: the hours ledger, points and quiz-based mastery, all computed from events."""
