package dev.cryo.config;

/** A cryo setting is missing, malformed or out of range; the message names the full key. */
public final class InvalidSettingsException extends RuntimeException {
  public InvalidSettingsException(String message) {
    super(message);
  }

  public InvalidSettingsException(String message, Throwable cause) {
    super(message, cause);
  }
}
