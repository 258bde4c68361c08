"""The streaming transcription engine (faster-whisper): see `streaming.py` for the policy,
`model.py` for the pass, `session.py` for the stream loop, `store.py` for persistence."""
