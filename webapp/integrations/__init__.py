"""Where the web app meets libraries it does not own."""
