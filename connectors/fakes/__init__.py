"""Stateful fakes of the external APIs, for tests and `syncd demo`."""
