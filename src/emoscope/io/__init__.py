"""Reading inputs and writing outputs: images now; video sources and sinks belong here too."""
