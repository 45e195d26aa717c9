/* archive: being written */
