/* quarantine: being written */
