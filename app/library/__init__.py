"""The document library: stored files, registration, ingestion jobs and the document use cases."""
