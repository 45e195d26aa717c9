/* schema: being written */
