package runner

import (
	"io"
	"log/slog"
)

// NewLogger returns a JSON logger in the shape Cloud Logging reads from a
// container's stdout: the level is "severity" with Cloud Logging's names
// (DEBUG, INFO, WARNING, ERROR) and the text is "message".
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: cloudLogging}))
}

func cloudLogging(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.LevelKey:
		l, _ := a.Value.Any().(slog.Level)
		return slog.String("severity", Severity(l))
	case slog.MessageKey:
		a.Key = "message"
	}
	return a
}

// Severity is Cloud Logging's name of a slog level.
func Severity(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARNING"
	}
	return "ERROR"
}
