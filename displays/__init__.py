"""The lobby display: its page, voice, the text of each event on its feed, the words of a call, LED lines."""
