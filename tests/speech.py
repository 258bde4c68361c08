"""Test speech comes from the simulator's speech module (espeak-ng voices, 16 kHz WAV)."""

from bots.simulator.speech import VOICES, make_silence_wav, make_speech_wav

__all__ = ["VOICES", "make_silence_wav", "make_speech_wav"]
