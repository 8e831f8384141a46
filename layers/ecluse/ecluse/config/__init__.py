"""One settings model per function, read once from the environment at cold start, each in its own module
(`ecluse.config.submit`…, the fields four of them share in `ecluse.config.common`): a function creates
its own model classes only, not the others' (a pydantic class costs about half a millisecond to create,
docs/benchmarks.md), and builds its validator when read (defer_build)."""
