"""Operations: what the gateway tells its operators' tools (metrics, and later alerts, probes)."""
