"""pgs-audio: Audio loading and feature encoders aligned to video frames (pgs.audio_encoders)."""
