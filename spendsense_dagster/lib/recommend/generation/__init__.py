"""Recommendation generators: the offline templates and the OpenAI client, behind one cache."""
