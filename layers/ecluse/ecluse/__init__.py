"""Écluse: hold customs declarations through outages and re-integrate them in order, at a throttled rate."""
