"""Reading records in: item, member and event files, and quiz question banks."""
