"""Correct answers written differently from the reference, one module per chapter.

Each module defines `ALTERNATIVES = {exercise_id: [fn, ...]}`. The grader must pass every
one of them: a check that only accepts the reference's exact way of computing is too strict.
"""
