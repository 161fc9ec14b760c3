"""Operations: metrics, alerts."""
