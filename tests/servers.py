"""Where the tests find the real servers they talk to (one place for every suite)."""

import os

#: The Redis database the tests' queues use (flushed by them: keep it for tests only).
TEST_REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
