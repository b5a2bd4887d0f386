"""Settings for the whole suite.

Hypothesis runs without a per-example deadline: on a shared two-core machine, with the
suite split over two xdist workers, an example's wall time measures the machine rather
than the code (tests/rating/test_money.py once failed its first example at 399 ms against
the 200 ms default, then ran it again in 19 ms). What the properties assert is unchanged.
"""

from hypothesis import settings

settings.register_profile("reckon", deadline=None)
settings.load_profile("reckon")


def pytest_collection_modifyitems(items: list) -> None:
    """Modules with a slow test run first, each module's tests kept together and in order
    (so a module fixture is built once): on two workers the longest tests then overlap
    the many short ones instead of running alone at the end."""
    slow_modules = {item.module for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.module not in slow_modules)
