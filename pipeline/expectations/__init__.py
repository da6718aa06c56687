"""Great Expectations suites, generated from the declared schema so rules cannot drift from it."""
