"""The compiled program: the artifact, its folder format (reading, writing, schema) and views."""
