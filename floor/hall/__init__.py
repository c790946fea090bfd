"""The hall as a whole: snapshot, configuration, window skills, end of day, and the public API's bodies."""
