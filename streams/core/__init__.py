"""The pure core: decoded events in, state, decisions and rows out (no I/O, no clock).

Its hot modules may run compiled (see `events.native`); this puts them first when they match.
"""

from events.native import use_compiled

use_compiled(__name__, __path__)
