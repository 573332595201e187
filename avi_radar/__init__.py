"""avi-radar: keeps the survey of audio-visual intelligence current."""
