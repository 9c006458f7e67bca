"""Operations: backup and restore of a whole installation (database, COG store, STAC, settings)."""
