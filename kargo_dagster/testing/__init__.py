"""Real servers and fakes for tests, shipped so that users can test their pipelines too."""
