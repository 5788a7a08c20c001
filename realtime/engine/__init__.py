"""The engine: the native mixer the callback runs, the styles around it (runner, wet path,
worker thread), its rings and counters. Uses ``realtime.format`` and ``realtime.native``."""

from realtime.engine.engine import CONCEAL_SECONDS, MODES, Engine, EngineConfig, db_to_gain

__all__ = ["CONCEAL_SECONDS", "MODES", "Engine", "EngineConfig", "db_to_gain"]
