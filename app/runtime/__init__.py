"""The process's footing: a private data folder, the installation id, the server's presence and operator channel, the model bundle and the doctor."""
