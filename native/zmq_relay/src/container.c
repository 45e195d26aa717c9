/* container: being written */
