"""Row-by-row reference implementations, written from DOMAIN.md alone.

They share no code with the set-based engines (only the validated inputs), so the
tests can compare the two to the cent, the benchmarks can time a straightforward
implementation beside the engine, and the demo can price its "correct" bills
independently of the rating engine under test."""
