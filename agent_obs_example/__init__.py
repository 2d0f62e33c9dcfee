"""The worked example: a query-optimizer agent service instrumented with agent_obs.

A LangGraph agent analyses a slow Dremio job, runs issue detectors, asks an LLM (with tools)
for recommendations, pauses for human approval of high-risk ones and stores the result; a
FastAPI service exposes it. Everything observable goes through the public API of
``agent_obs`` and ``service_obs`` only.

Entry points: ``create_app`` in ``app.py``, ``run_demo`` in ``demo.py`` (``agent-obs demo``),
``run_server`` in ``serve.py`` (``agent-obs serve``) and ``rerun_optimizer`` in ``replay.py``
(re-run a recorded run deterministically). Importing this package does nothing.
"""
